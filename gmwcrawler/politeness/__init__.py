"""What the site asks, obeyed by every worker: its pauses and the operator's rate, taken when a request is
really sent (`gate`), and robots.txt as RFC 9309 says (`robotstxt`)."""
