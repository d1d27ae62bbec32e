"""What the dashboard computes, without Streamlit: data and model choices, fitting a model to
data (with the mismatch explained in plain words), predictions, selections, uploads and which
typed paths may be read (data roots).

The Streamlit pages in ``app/`` only pick inputs, cache these results and draw ``rbt.viz``
figures.
"""

from .compute import (
    attribute_windows,
    few_threads,
    group_mean_attention,
    predict_all,
    predict_windows,
    trust_numbers,
    window_attention,
)
from .loading import (
    DEMO_CHECKPOINT,
    SOURCE_LABELS,
    DataChoice,
    Fitted,
    available_devices,
    data_stamp,
    demo_checkpoint,
    fit_model_to_data,
    load_data,
    parse_channel_map,
    planted_electrodes,
    protocol_metrics,
    targets_for,
    tasks_for,
)
from .roots import DataRoots, configured_roots, is_loopback
from .selection import (
    compare_groups,
    filter_frame,
    group_labels,
    prediction_frame,
    sample_rows,
    subjects_of,
    trial_rows,
    trials_of,
)
from .uploads import (
    MAX_UPLOAD_MB,
    UPLOAD_TTL_S,
    SessionUploads,
    UploadStore,
    check_recording,
    save_uploads,
)

__all__ = [
    "DEMO_CHECKPOINT", "MAX_UPLOAD_MB", "SOURCE_LABELS", "UPLOAD_TTL_S", "DataChoice",
    "DataRoots", "Fitted", "SessionUploads", "UploadStore", "attribute_windows",
    "available_devices", "check_recording", "compare_groups", "configured_roots", "data_stamp",
    "demo_checkpoint", "is_loopback",
    "few_threads", "filter_frame", "fit_model_to_data", "group_labels", "group_mean_attention",
    "load_data", "parse_channel_map", "planted_electrodes", "predict_all", "predict_windows",
    "prediction_frame", "protocol_metrics", "sample_rows", "save_uploads", "subjects_of",
    "targets_for", "tasks_for", "trial_rows", "trials_of", "trust_numbers", "window_attention",
]
