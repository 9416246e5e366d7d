"""Response models of the routers whose domain answers plain dicts, one module per router.

Each model names every field in the order the domain writes it, typed as the JSON carries it
(ids and times are the strings the domain formats), so validating an answer changes none of its
bytes; ``extra="allow"`` (:class:`console_api.responses.Answer`) passes a field the domain adds
later through unchanged until it is described here.
"""
