using System.CommandLine;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using InfraMind.Serving;
using InfraMind.Signing;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra receipt verify`: checks a node's job receipt offline (its signature by the node's key, and the input and output hashes).</summary>
internal static class ReceiptCommand
{
    public static Command Create(CliContext context)
    {
        var receipt = new Command("receipt", "Job receipts: what a node signs for every answer (the gateway returns it in the InfraMind-Receipt header).");
        var value = new Argument<string>("RECEIPT")
        {
            Description = "The receipt: the InfraMind-Receipt header's value, its DSSE envelope JSON, a file holding either, or - to read it from stdin",
        };
        var key = new Option<string?>("--key") { Description = "Verify against this key of $INFRAMIND_HOME/keys (its public half)", HelpName = "NAME" };
        var publicKey = new Option<string?>("--public-key") { Description = "Verify against this PEM public key file", HelpName = "FILE" };
        var fingerprint = new Option<string?>("--fingerprint") { Description = "Verify against the key with this fingerprint (sha256:HEX; the receipt carries the key)", HelpName = "F" };
        fingerprint.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } f && !Serving.MeshKeys.IsFingerprint(f))
                r.AddError($"--fingerprint '{f}' is not a key fingerprint: write sha256: and 64 hex digits, as `infra keys list` prints them");
        });
        var input = new Option<string?>("--input")
        {
            Description = "Also check the input hash against this file: the JSON the model got (the gateway forwards it compact, without insignificant white space; a file that differs only in that matches too)",
            HelpName = "FILE",
        };
        var output = new Option<string?>("--output") { Description = "Also check the output hash against this file: the answer's exact bytes", HelpName = "FILE" };
        var json = new Option<bool>("--json") { Description = "Print {valid, receipt, checks} as JSON; a receipt that does not verify is the error object (IM6045), exit 1" };
        var verify = new Command("verify",
            "Verify a job receipt offline: a DSSE envelope signed by the node's key over {requestId, model, version, imageDigest, inputSha256, outputSha256, node, nodeKey, time}. " +
            "Name the key to trust with exactly one of --key, --public-key or --fingerprint.\n" +
            "Exit codes: 0 the receipt verifies (and the hashes match the files given), 1 it does not (IM6045: altered, another key, or a hash that differs), " +
            "2 usage error (no key or two, a file that does not exist).")
        {
            value, key, publicKey, fingerprint, input, output, json,
        };
        verify.SetAction(parse =>
        {
            var trusted = new[] { parse.GetValue(key), parse.GetValue(publicKey), parse.GetValue(fingerprint) }.Count(v => v is not null);
            if (trusted != 1)
                throw new InfraMindException(CliErrorCodes.UsageError, trusted == 0 ? "no key to verify the receipt against" : "more than one key to verify the receipt against",
                    "pass exactly one of --key NAME, --public-key FILE or --fingerprint sha256:HEX (the node's, as the gateway lists it)");
            var text = Read(parse.GetValue(value)!);
            PublicKey? expected = null;
            if (parse.GetValue(key) is { } name) expected = new KeyStore(InfraHome.Ensure(context.Home.Keys)).LoadPublic(name);
            if (parse.GetValue(publicKey) is { } pem) expected = PublicKey.FromPemFile(Existing(pem, "--public-key"));
            var check = JobReceipts.Verify(text, expected);
            if (check.Receipt is { } r && parse.GetValue(fingerprint) is { } f && !string.Equals(PublicKey.FromBase64(r.NodeKey).Fingerprint, f.Trim(), StringComparison.OrdinalIgnoreCase))
                check = new ReceiptCheck(null, $"the receipt is signed by node key {PublicKey.FromBase64(r.NodeKey).Fingerprint}, not {f.Trim()}");
            if (check.Receipt is not { } valid) throw new InfraMindException(MeshErrorCodes.ReceiptInvalid, $"the receipt does not verify: {check.Problem}");
            var checks = new List<string> { $"signed by node key {PublicKey.FromBase64(valid.NodeKey).Fingerprint}" };
            if (parse.GetValue(input) is { } inputFile)
            {
                var bytes = ReadChecked(inputFile, "--input");
                var matches = JobReceipts.Sha256(bytes) == valid.InputSha256 || (Compact(bytes) is { } compact && JobReceipts.Sha256(compact) == valid.InputSha256);
                if (!matches)
                    throw new InfraMindException(MeshErrorCodes.ReceiptInvalid, $"{inputFile} is not the input the receipt names (sha256 {valid.InputSha256})");
                checks.Add($"input {inputFile} matches");
            }

            if (parse.GetValue(output) is { } outputFile)
            {
                var bytes = ReadChecked(outputFile, "--output");
                if (JobReceipts.Sha256(bytes) != valid.OutputSha256)
                    throw new InfraMindException(MeshErrorCodes.ReceiptInvalid, $"{outputFile} is not the output the receipt names (its sha256 is {JobReceipts.Sha256(bytes)}, the receipt's {valid.OutputSha256})");
                checks.Add($"output {outputFile} matches");
            }

            if (parse.GetValue(json))
            {
                CliJson.Write(context.Output, new { valid = true, receipt = valid, checks });
            }
            else
            {
                context.Console.MarkupLine($"[green]✓[/] receipt of request {ConsoleText.Escape(valid.RequestId)}: {ConsoleText.Escape(valid.Model)}@{ConsoleText.Escape(valid.Version)} " +
                                           $"on node {ConsoleText.Escape(valid.Node)} at {valid.Time:O}");
                foreach (var line in checks) context.Console.MarkupLine($"  {ConsoleText.Escape(line)}");
            }

            return ExitCodes.Ok;
        });
        receipt.Subcommands.Add(verify);
        return receipt;
    }

    /// <summary>The receipt from stdin (-), a file, or the argument itself; at most <see cref="JobReceipts.MaxEncodedLength"/> characters are read.</summary>
    private static string Read(string value)
    {
        if (value == "-")
        {
            var buffer = new char[JobReceipts.MaxEncodedLength + 1];
            var read = System.Console.In.ReadBlock(buffer, 0, buffer.Length);
            return new string(buffer, 0, read);
        }

        if (File.Exists(value))
        {
            using var reader = new StreamReader(value, Encoding.UTF8);
            var buffer = new char[JobReceipts.MaxEncodedLength + 1];
            var read = reader.ReadBlock(buffer, 0, buffer.Length);
            return new string(buffer, 0, read);
        }

        // A receipt itself is base64url (no '/') or envelope JSON ('{'): anything else with a '/' is a path that is not a file.
        if (Directory.Exists(value))
            throw new InfraMindException(CliErrorCodes.UsageError, $"{value} is a directory, not a receipt file", "pass the receipt, the file that holds it, or - for standard input");
        if (!value.TrimStart().StartsWith('{') && value.Contains('/', StringComparison.Ordinal))
            throw new InfraMindException(CliErrorCodes.FileNotFound, $"no receipt file at {value}", "pass the receipt, the file that holds it, or - for standard input");
        return value;
    }

    /// <summary>
    /// The most bytes of an --input or --output file read: more than any request or answer a mesh passes unless its
    /// operator raised the limits far (a gateway takes 1 MiB, a node's answer 16 MiB, by default).
    /// </summary>
    internal const int MaxCheckedBytes = 256 * 1024 * 1024;

    /// <summary>
    /// The bytes of an --input or --output <paramref name="file"/>, read to at most <see cref="MaxCheckedBytes"/>: a
    /// device or a pipe that never ends (/dev/zero reports no length) is refused there, not read until memory runs out.
    /// </summary>
    private static byte[] ReadChecked(string file, string option) =>
        BoundedBody.ReadFile(Existing(file, option), MaxCheckedBytes)
        ?? throw new InfraMindException(CliErrorCodes.UsageError, $"{option} {file} holds more than {MaxCheckedBytes} bytes, more than a request or an answer through a mesh",
            $"name the file the request or the answer was saved to ({option} FILE)");

    private static string Existing(string file, string option) =>
        CliErrorCodes.RequireFile(file, option + " file", "name an existing file");

    /// <summary>The JSON as the gateway forwards it (compact, relaxed escaping), or null when the bytes are not JSON.</summary>
    private static byte[]? Compact(byte[] bytes)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 256 });
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(bytes.Length + 16);
            using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false, MaxDepth = 257 }))
                document.RootElement.WriteTo(writer);
            return buffer.WrittenSpan.ToArray();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
