"""The command line client for people: keys made here, every request signed here."""
