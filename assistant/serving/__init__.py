"""The edges people use: command line, REST API, Gradio chat, metrics, watch mode."""
