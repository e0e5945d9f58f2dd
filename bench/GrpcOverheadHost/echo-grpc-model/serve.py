#!/usr/bin/env python3
# The cheapest gRPC model there is: an Open Inference Protocol V2 server whose ModelInfer echoes {"text"} back in the
# "json" tensor (and refuses anything else with INVALID_ARGUMENT, as a node's pre-flight demands), so a benchmark
# measures the path to it, not the model: the gRPC twin of bench/GatewayOverhead/echo-model.
# Messages from inference_v2.json (the bench writes InfraMind's FileDescriptorSet next to this file), no protoc.
import json
import os
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, json_format, message_factory

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "inference_v2.json"), encoding="utf-8") as f:
    M = message_factory.GetMessages(json_format.Parse(f.read(), descriptor_pb2.FileDescriptorSet()).file)


def model_infer(request, context):
    if not request.inputs or request.inputs[0].name != "json" or not request.inputs[0].contents.bytes_contents:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "expected a BYTES input tensor named 'json', shape [1]")
    try:
        doc = json.loads(request.inputs[0].contents.bytes_contents[0])
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, 'expected {"text": string}')
    answer = M["inference.ModelInferResponse"](model_name=request.model_name, model_version=request.model_version, id=request.id)
    out = answer.outputs.add(name="json", datatype="BYTES", shape=[1])
    out.contents.bytes_contents.append(json.dumps({"text": doc["text"]}).encode())
    return answer


def unary(function, request_type, response_type):
    return grpc.unary_unary_rpc_method_handler(
        function, request_deserializer=M[request_type].FromString, response_serializer=M[response_type].SerializeToString)


v2 = {
    "ServerLive": unary(lambda r, c: M["inference.ServerLiveResponse"](live=True), "inference.ServerLiveRequest", "inference.ServerLiveResponse"),
    "ServerReady": unary(lambda r, c: M["inference.ServerReadyResponse"](ready=True), "inference.ServerReadyRequest", "inference.ServerReadyResponse"),
    "ModelInfer": unary(model_infer, "inference.ModelInferRequest", "inference.ModelInferResponse"),
}
health = {"Check": unary(lambda r, c: M["grpc.health.v1.HealthCheckResponse"](status=1), "grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse")}
server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("inference.GRPCInferenceService", v2),
                                 grpc.method_handlers_generic_handler("grpc.health.v1.Health", health)))
server.add_insecure_port("0.0.0.0:50051")
server.start()
server.wait_for_termination()
