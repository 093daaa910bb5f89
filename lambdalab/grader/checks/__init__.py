"""One module per lab; each registers its checks with ``@register("labNN.name", "title")``."""
