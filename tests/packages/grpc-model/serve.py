#!/usr/bin/env python3
# A V2 gRPC test model (grpcio + protobuf, messages from inference_v2.json, which the test writes beside it) with one
# behaviour switched on by BEHAVIOR, to prove each gRPC verdict of a conformance run against a real grpcio server.
import json
import os
import struct
import time
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, json_format, message_factory

BEHAVIOR = os.environ.get("BEHAVIOR", "good")
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "inference_v2.json"), encoding="utf-8") as f:
    M = message_factory.GetMessages(json_format.Parse(f.read(), descriptor_pb2.FileDescriptorSet()).file)


def infer(request, context):
    tensors = [t for t in request.inputs if t.name == "json" and t.contents.bytes_contents]
    try:
        doc = json.loads(tensors[0].contents.bytes_contents[0])
        valid = isinstance(doc, dict) and isinstance(doc.get("text"), str)
    except (IndexError, ValueError):
        valid = False
    if not valid and BEHAVIOR != "accept-invalid":
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "expected {\"text\": string}")
    if valid and BEHAVIOR == "internal":
        context.abort(grpc.StatusCode.INTERNAL, "tokenizer exploded")
    if BEHAVIOR == "slow":
        time.sleep(3)
    text = doc["text"] if valid else ""
    answer = json.dumps({"summary": ("x" * (2 << 20)) if BEHAVIOR in ("huge", "huge-gzip") else text[:40]}).encode()
    response = M["inference.ModelInferResponse"](model_name=request.model_name, id=request.id)
    if BEHAVIOR == "raw":
        response.outputs.add(name="json", datatype="BYTES", shape=[1])
        response.raw_output_contents.append(struct.pack("<I", len(answer)) + answer)
    else:
        out = response.outputs.add(name="output0" if BEHAVIOR == "no-json" else "json", datatype="BYTES", shape=[1])
        out.contents.bytes_contents.append(answer)
    return response


def serialize_answer(message):
    # Not a ModelInferResponse: field 5 (outputs) as a varint, the wrong wire type for a message.
    return b"\x28\x01\xff" if BEHAVIOR == "malformed" else message.SerializeToString()


def check(request, context):
    return M["grpc.health.v1.HealthCheckResponse"](status=2 if BEHAVIOR == "not-serving" else 1)


def unary(function, request, response, serializer=None):
    return grpc.unary_unary_rpc_method_handler(
        function, request_deserializer=M[request].FromString, response_serializer=serializer or M[response].SerializeToString)


handlers = [grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
    "Check": unary(check, "grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse")})]
if BEHAVIOR == "no-v2":
    # An HTTP/2 gRPC server of something else: neither grpc.health.v1 nor V2 (every call UNIMPLEMENTED).
    handlers = []
elif BEHAVIOR != "unimplemented":
    handlers.append(grpc.method_handlers_generic_handler("inference.GRPCInferenceService", {
        "ModelInfer": unary(infer, "inference.ModelInferRequest", "inference.ModelInferResponse", serialize_answer)}))
# gzip / huge-gzip: every answer gzip-compressed (grpcio compresses for a client that accepts gzip, as InfraMind's does).
compression = grpc.Compression.Gzip if BEHAVIOR.endswith("gzip") else grpc.Compression.NoCompression
server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), compression=compression)
server.add_generic_rpc_handlers(handlers)
server.add_insecure_port("0.0.0.0:50051")
server.start()
print("grpc-model (%s) listening on 50051" % BEHAVIOR, flush=True)
server.wait_for_termination()
