/* The node suite's pod sandbox ("pause") process: holds the pod's namespaces and waits for a
 * signal. Built static (gcc -static) so its image is this one file and nothing else. */
#include <signal.h>
#include <unistd.h>

static void finish(int sig) {
    (void)sig;
    _exit(0);
}

int main(void) {
    signal(SIGTERM, finish);
    signal(SIGINT, finish);
    for (;;) {
        pause();
    }
}
