"""The shared model: what a Recording is, how the OME task view maps onto it, the vhost/app
configuration, and the rules both the API and the CRD enforce. Nothing here does I/O beyond
reading a config file, so every other layer may depend on it."""
