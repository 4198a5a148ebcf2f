"""Tickets: the ticket domain (SLA deadlines, lifecycle, dedup, audit history, outbox).

Pure core (``sla``, ``lifecycle``) and a thin storage shell (``db``, ``models``, ``service``).
Callers use ``TicketService`` and the pydantic ``schemas``; nothing else needs SQLAlchemy.
"""
