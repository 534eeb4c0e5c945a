"""Evidence selection: which sentences answer the question, what they lack, where sources disagree, and the windows
a prompt is given."""
