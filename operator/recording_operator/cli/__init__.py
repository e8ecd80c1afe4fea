"""The one ``recording-operator`` command."""
