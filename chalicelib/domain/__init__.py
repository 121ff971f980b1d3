"""Pure domain rules of the management program: no I/O, no AWS."""
