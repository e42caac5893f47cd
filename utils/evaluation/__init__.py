"""Evaluation.

Accuracy, F1 and bootstrap intervals, Elo and Bradley-Terry ratings, calibration, and
multiple-choice scoring by log-likelihood.
"""
