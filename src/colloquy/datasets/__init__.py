"""Datasets: users' JSONL chat examples for fine-tuning, validated as they are uploaded and kept
in a content-addressed file store."""
