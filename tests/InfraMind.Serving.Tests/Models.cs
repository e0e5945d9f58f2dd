using System.Text;
using InfraMind.Manifest;

namespace InfraMind.Serving.Tests;

/// <summary>Small valid manifests, read from model.yaml text as a package's would be.</summary>
internal static class Models
{
    public static ModelManifest Echo(string version = "1.0.0", string name = "echo") =>
        ManifestReader.ValidateContent(Encoding.UTF8.GetBytes($$$"""
            name: {{{name}}}
            version: {{{version}}}
            entrypoint: serve.py
            runtime: python3.10
            protocol: rest
            port: 9000
            resources: {cpu: 1, memory: 256Mi, gpu: false}
            input_schema: {type: object, properties: {text: {type: string}}, required: [text]}
            output_schema: {type: object, properties: {summary: {type: string}}, required: [summary], additionalProperties: false}
            """)).Manifest ?? throw new InvalidOperationException("the test manifest is invalid");
}
