"""Every built-in ``roboflow_core`` block: ``CORE_BLOCKS``, what the ``visionflow.workflow_blocks``
entry point (``visionflow.workflows.blocks:CORE_BLOCKS``) names. Importing this imports every
block module; ``visionflow.workflows.blocks`` imports it only when ``CORE_BLOCKS`` is asked for."""

from visionflow.workflows.block import Block
from visionflow.workflows.blocks.aggregator import AGGREGATOR_BLOCKS
from visionflow.workflows.blocks.analytics import ANALYTICS_BLOCKS
from visionflow.workflows.blocks.annotators import ANNOTATOR_BLOCKS
from visionflow.workflows.blocks.background import BACKGROUND_BLOCKS
from visionflow.workflows.blocks.cache import CACHE_BLOCKS
from visionflow.workflows.blocks.calibration import CALIBRATION_BLOCKS
from visionflow.workflows.blocks.captions import CAPTION_BLOCKS
from visionflow.workflows.blocks.change_analytics import CHANGE_ANALYTICS_BLOCKS
from visionflow.workflows.blocks.class_lock import CLASS_LOCK_BLOCKS
from visionflow.workflows.blocks.classical_cv import CLASSICAL_CV_BLOCKS
from visionflow.workflows.blocks.clip import CLIP_BLOCKS
from visionflow.workflows.blocks.codes import CODE_BLOCKS
from visionflow.workflows.blocks.consensus import CONSENSUS_BLOCKS
from visionflow.workflows.blocks.detections_comparison import DETECTIONS_COMPARISON_BLOCKS
from visionflow.workflows.blocks.detections_ops import DETECTIONS_OPS_BLOCKS
from visionflow.workflows.blocks.dynamic_zones import DYNAMIC_ZONE_BLOCKS
from visionflow.workflows.blocks.email_notification import EMAIL_BLOCKS
from visionflow.workflows.blocks.embeddings import EMBEDDING_BLOCKS
from visionflow.workflows.blocks.expressions import EXPRESSION_BLOCKS
from visionflow.workflows.blocks.features import FEATURE_BLOCKS
from visionflow.workflows.blocks.flow import FLOW_BLOCKS
from visionflow.workflows.blocks.flow_control import FLOW_CONTROL_BLOCKS
from visionflow.workflows.blocks.formatters import FORMATTER_BLOCKS
from visionflow.workflows.blocks.fusion import FUSION_BLOCKS
from visionflow.workflows.blocks.geotag import GEOTAG_BLOCKS
from visionflow.workflows.blocks.google_vision import GOOGLE_VISION_BLOCKS
from visionflow.workflows.blocks.grid import GRID_BLOCKS
from visionflow.workflows.blocks.heatmap import HEATMAP_BLOCKS
from visionflow.workflows.blocks.hosted_llm import HOSTED_LLM_BLOCKS
from visionflow.workflows.blocks.image_filters import IMAGE_FILTER_BLOCKS
from visionflow.workflows.blocks.image_quality import IMAGE_QUALITY_BLOCKS
from visionflow.workflows.blocks.inner_workflow import INNER_WORKFLOW_BLOCKS
from visionflow.workflows.blocks.lmm import LMM_BLOCKS
from visionflow.workflows.blocks.mask_snap import MASK_SNAP_BLOCKS
from visionflow.workflows.blocks.measurement import MEASUREMENT_BLOCKS
from visionflow.workflows.blocks.models import MODEL_BLOCKS
from visionflow.workflows.blocks.mqtt_writer import MQTT_BLOCKS
from visionflow.workflows.blocks.ocr import OCR_BLOCKS
from visionflow.workflows.blocks.ocr_stitch import OCR_STITCH_BLOCKS
from visionflow.workflows.blocks.overlays import OVERLAY_BLOCKS
from visionflow.workflows.blocks.perspective import PERSPECTIVE_BLOCKS
from visionflow.workflows.blocks.postgresql_sink import POSTGRESQL_BLOCKS
from visionflow.workflows.blocks.rollup import ROLLUP_BLOCKS
from visionflow.workflows.blocks.s3_sink import S3_BLOCKS
from visionflow.workflows.blocks.sampling import SAMPLING_BLOCKS
from visionflow.workflows.blocks.secrets import SECRETS_BLOCKS
from visionflow.workflows.blocks.sinks import SINK_BLOCKS
from visionflow.workflows.blocks.slack import SLACK_BLOCKS
from visionflow.workflows.blocks.stability import STABILITY_BLOCKS
from visionflow.workflows.blocks.stabilization import STABILIZATION_BLOCKS
from visionflow.workflows.blocks.static_crops import STATIC_CROP_BLOCKS
from visionflow.workflows.blocks.stitching import STITCHING_BLOCKS
from visionflow.workflows.blocks.temporal import TEMPORAL_BLOCKS
from visionflow.workflows.blocks.trackers import TRACKER_BLOCKS
from visionflow.workflows.blocks.tracking import TRACKING_BLOCKS
from visionflow.workflows.blocks.transformations import TRANSFORMATION_BLOCKS
from visionflow.workflows.blocks.twilio import TWILIO_BLOCKS
from visionflow.workflows.blocks.visual_effects import VISUAL_EFFECT_BLOCKS
from visionflow.workflows.blocks.visualizations import VISUALIZATION_BLOCKS
from visionflow.workflows.blocks.vlm_formatters import VLM_FORMATTER_BLOCKS
from visionflow.workflows.blocks.yolo_world import YOLO_WORLD_BLOCKS
from visionflow.workflows.blocks.zone_visualizations import ZONE_VISUALIZATION_BLOCKS

__all__ = ["CORE_BLOCKS"]

CORE_BLOCKS: tuple[type[Block], ...] = (
    *MODEL_BLOCKS,
    *OCR_BLOCKS,
    *OCR_STITCH_BLOCKS,
    *YOLO_WORLD_BLOCKS,
    *CLIP_BLOCKS,
    *EMBEDDING_BLOCKS,
    *FLOW_BLOCKS,
    *FLOW_CONTROL_BLOCKS,
    *INNER_WORKFLOW_BLOCKS,
    *TEMPORAL_BLOCKS,
    *CACHE_BLOCKS,
    *SECRETS_BLOCKS,
    *FORMATTER_BLOCKS,
    *VLM_FORMATTER_BLOCKS,
    *EXPRESSION_BLOCKS,
    *TRANSFORMATION_BLOCKS,
    *GEOTAG_BLOCKS,
    *STATIC_CROP_BLOCKS,
    *DETECTIONS_OPS_BLOCKS,
    *CONSENSUS_BLOCKS,
    *FUSION_BLOCKS,
    *DETECTIONS_COMPARISON_BLOCKS,
    *ROLLUP_BLOCKS,
    *PERSPECTIVE_BLOCKS,
    *DYNAMIC_ZONE_BLOCKS,
    *CALIBRATION_BLOCKS,
    *STITCHING_BLOCKS,
    *TRACKING_BLOCKS,
    *TRACKER_BLOCKS,
    *STABILIZATION_BLOCKS,
    *CLASS_LOCK_BLOCKS,
    *VISUALIZATION_BLOCKS,
    *ANNOTATOR_BLOCKS,
    *VISUAL_EFFECT_BLOCKS,
    *ZONE_VISUALIZATION_BLOCKS,
    *HEATMAP_BLOCKS,
    *OVERLAY_BLOCKS,
    *CAPTION_BLOCKS,
    *GRID_BLOCKS,
    *CODE_BLOCKS,
    *CLASSICAL_CV_BLOCKS,
    *IMAGE_FILTER_BLOCKS,
    *FEATURE_BLOCKS,
    *BACKGROUND_BLOCKS,
    *IMAGE_QUALITY_BLOCKS,
    *MEASUREMENT_BLOCKS,
    *MASK_SNAP_BLOCKS,
    *ANALYTICS_BLOCKS,
    *CHANGE_ANALYTICS_BLOCKS,
    *SAMPLING_BLOCKS,
    *AGGREGATOR_BLOCKS,
    *SINK_BLOCKS,
    *EMAIL_BLOCKS,
    *S3_BLOCKS,
    *SLACK_BLOCKS,
    *TWILIO_BLOCKS,
    *POSTGRESQL_BLOCKS,
    *MQTT_BLOCKS,
    *HOSTED_LLM_BLOCKS,
    *LMM_BLOCKS,
    *GOOGLE_VISION_BLOCKS,
    *STABILITY_BLOCKS,
)
