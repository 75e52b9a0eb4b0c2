"""Requirements capture: surveys, interviews, the requirements backlog and coverage."""
