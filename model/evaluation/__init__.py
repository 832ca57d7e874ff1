"""Evaluation metrics: BLEU, exact/template/execution match, validity, diversity."""
