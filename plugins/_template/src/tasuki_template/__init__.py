"""tasuki-template: the plugin to copy when starting a new one."""
