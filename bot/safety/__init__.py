"""Safety and counsellor contact: the private safety signal, discreet mode, counsellor requests."""
