"""The shipped model folders, as package data (`codefusion.models`); see model/shipped.py."""
