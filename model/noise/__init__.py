"""Noise processes ("kernels") and their samplers: the paper's Gaussian one and the masked one."""
