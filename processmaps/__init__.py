"""Process maps with an owner on every node: versions, rendering, checks, RACI, BPMN."""
