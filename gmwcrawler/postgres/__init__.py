"""PostgreSQL: the connection and the migrations (`database`, `migrations/`), the item pipeline that writes
to it (`sink`), and `scrapy gmw history` (`history`)."""
