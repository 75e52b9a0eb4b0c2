"""Weekly retrospectives: cards, grouping, dot voting, action items and recurring themes."""
