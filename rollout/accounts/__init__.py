"""Users, departments, roles and login."""
