"""How a run is judged: before it starts (`preflight`), when it ends (`report`, its verdict, and `drift`,
the markup the site no longer serves the usual way), and for Prometheus (`metrics`)."""
