"""SLA clocks and escalation: the working calendar, deadlines and (later) escalation targets."""
