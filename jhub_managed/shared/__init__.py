"""What both the hub's process and the services' processes read: pure data and file formats,
so that neither side imports the other."""
