"""The only package that imports onnxruntime: sessions, providers, threads."""

from visionflow.runtime.session import OnnxSession, TensorSpec, check_providers, read_onnx_info

__all__ = ["OnnxSession", "TensorSpec", "check_providers", "read_onnx_info"]
