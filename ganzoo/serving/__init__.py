"""Clients and warmup requests for ganzoo generators served by TF Serving.

`rest` builds `:predict` JSON bodies and decodes responses (urllib only);
`grpc` builds `PredictRequest` protos for `PredictionServiceStub`; `warmup`
writes `assets.extra/tf_serving_warmup_requests`.
"""
