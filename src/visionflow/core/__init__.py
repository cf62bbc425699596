"""Pure numpy building blocks: images, boxes, letterboxing, NMS, detections and the wire format.

Nothing in ``core`` does I/O beyond decoding bytes it is handed, reads settings or imports
onnxruntime or web frameworks.
"""
