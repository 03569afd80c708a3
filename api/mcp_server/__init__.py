"""The API's tools over the Model Context Protocol: streamable HTTP at /mcp, and stdio (`python -m api mcp`)."""
