"""LLM providers: one chat call in, the answer's text out."""
