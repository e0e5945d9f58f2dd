#!/usr/bin/env python3
# A client that is not .NET for the gateway's V2 gRPC ingress: Debian's grpcio + protobuf, the messages built at run
# time from the FileDescriptorSet InfraMind ships to Python models (inference_v2.json), no generated code.
# Usage: infer.py DESCRIPTORS HOST:PORT MODEL INPUT_JSON...
# Prints one JSON object: the health of the server and the model, ModelReady, ModelMetadata, and for each input the
# status code name and the json output tensor's document (or the status message).
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, json_format, message_factory

descriptors, target, model, inputs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
with open(descriptors, encoding="utf-8") as f:
    M = message_factory.GetMessages(json_format.Parse(f.read(), descriptor_pb2.FileDescriptorSet()).file)


def call(channel, method, request, response):
    return channel.unary_unary(method, request_serializer=M[request].SerializeToString, response_deserializer=M[response].FromString)


with grpc.insecure_channel(target) as channel:
    check = call(channel, "/grpc.health.v1.Health/Check", "grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse")
    service = "/inference.GRPCInferenceService/"
    ready = call(channel, service + "ModelReady", "inference.ModelReadyRequest", "inference.ModelReadyResponse")
    metadata = call(channel, service + "ModelMetadata", "inference.ModelMetadataRequest", "inference.ModelMetadataResponse")
    infer = call(channel, service + "ModelInfer", "inference.ModelInferRequest", "inference.ModelInferResponse")
    meta = metadata(M["inference.ModelMetadataRequest"](name=model), timeout=10)
    result = {
        "serverHealth": check(M["grpc.health.v1.HealthCheckRequest"](service=""), timeout=10).status,
        "modelHealth": check(M["grpc.health.v1.HealthCheckRequest"](service=model), timeout=10).status,
        "ready": ready(M["inference.ModelReadyRequest"](name=model), timeout=10).ready,
        "metadata": {"name": meta.name, "versions": list(meta.versions), "inputs": [[t.name, t.datatype, list(t.shape)] for t in meta.inputs]},
        "answers": [],
    }
    for i, document in enumerate(inputs):
        request = M["inference.ModelInferRequest"](model_name=model, id="py-%d" % i)
        tensor = request.inputs.add(name="json", datatype="BYTES", shape=[1])
        tensor.contents.bytes_contents.append(document.encode("utf-8"))
        request.outputs.add(name="json")
        try:
            response = infer(request, timeout=30)
            outputs = [o for o in response.outputs if o.name == "json"]
            result["answers"].append({"code": "OK", "id": response.id, "answer": json.loads(outputs[0].contents.bytes_contents[0])})
        except grpc.RpcError as e:
            result["answers"].append({"code": e.code().name, "message": e.details()})
print(json.dumps(result))
