"""What people touch: the `shopfloor` command line (and, later, the Gradio app)."""
