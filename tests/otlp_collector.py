"""A real OTLP/gRPC receiver for the tests: the services export traces and metrics to it
exactly as they would to Jaeger or a collector, and the tests read back which service
produced which span or metric."""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass

import grpc
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from services.devstack.embedded import free_port


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    trace_id: str
    name: str


class OtlpCollector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self._spans: list[ReceivedSpan] = []
        self._metrics: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.port = free_port()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(self), self._server)
        self._server.add_insecure_port(f"127.0.0.1:{self.port}")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(grace=None)

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        received = []
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            service = attributes.get("service.name", "")
            for scope in resource_spans.scope_spans:
                received += [
                    ReceivedSpan(service, span.trace_id.hex(), span.name) for span in scope.spans
                ]
        with self._lock:
            self._spans += received
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def record_metrics(self, received: set[tuple[str, str]]) -> None:
        with self._lock:
            self._metrics |= received

    def metric_names(self) -> set[tuple[str, str]]:
        """(service, metric name) pairs received so far."""
        with self._lock:
            return set(self._metrics)


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, collector: OtlpCollector) -> None:
        self._collector = collector

    def Export(
        self,
        request: metrics_service_pb2.ExportMetricsServiceRequest,
        context: grpc.ServicerContext,
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        received = set()
        for resource_metrics in request.resource_metrics:
            attributes = {a.key: a.value.string_value for a in resource_metrics.resource.attributes}
            service = attributes.get("service.name", "")
            for scope in resource_metrics.scope_metrics:
                received |= {(service, metric.name) for metric in scope.metrics}
        self._collector.record_metrics(received)
        return metrics_service_pb2.ExportMetricsServiceResponse()
