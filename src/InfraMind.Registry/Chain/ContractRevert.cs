using System.Globalization;
using System.Numerics;
using Nethereum.ABI.FunctionEncoding;
using Newtonsoft.Json.Linq;

namespace InfraMind.Registry.Chain;

/// <summary>A decoded revert: the contract's custom error (or <c>Error</c>/<c>Panic</c>) with its named arguments.</summary>
public sealed record ContractRevert(string Error, IReadOnlyDictionary<string, object?> Arguments, string Data)
{
    private const string ErrorStringSelector = "08c379a0";
    private const string PanicSelector = "4e487b71";

    /// <summary>Decodes revert data (<c>0x</c> + selector + ABI arguments) against the registry's ABI.</summary>
    public static ContractRevert Decode(string data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var hex = data.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? data[2..] : data;
        if (hex.Length < 8)
        {
            return new ContractRevert("", new Dictionary<string, object?>(), data);
        }

        var selector = hex[..8].ToLowerInvariant();
        var body = "0x" + hex[8..];
        try
        {
            if (selector == ErrorStringSelector)
            {
                var reason = new FunctionCallDecoder().DecodeFunctionErrorMessage("0x" + hex);
                return new ContractRevert("Error", new Dictionary<string, object?> { ["reason"] = reason }, data);
            }

            if (selector == PanicSelector)
            {
                var code = new ParameterDecoder().DecodeDefaultData(body, [new Nethereum.ABI.Model.Parameter("uint256", "code", 1)])[0].Result;
                return new ContractRevert("Panic", new Dictionary<string, object?> { ["code"] = code }, data);
            }

            var error = RegistryContract.Contract.Errors.FirstOrDefault(e => e.Sha3Signature.Equals(selector, StringComparison.OrdinalIgnoreCase));
            if (error is null)
            {
                return new ContractRevert("0x" + selector, new Dictionary<string, object?>(), data);
            }

            var args = new ParameterDecoder().DecodeDefaultData(body, error.InputParameters)
                .ToDictionary(p => p.Parameter.Name, p => (object?)p.Result);
            return new ContractRevert(error.Name, args, data);
        }
        catch (Exception ex) when (ex is Nethereum.ABI.FunctionEncoding.AbiEncodingException or ArgumentException or FormatException or IndexOutOfRangeException or InvalidOperationException)
        {
            return new ContractRevert("0x" + selector, new Dictionary<string, object?>(), data);
        }
    }

    /// <summary>Finds revert data in a JSON-RPC error's <c>data</c> member, in the shapes nodes use (a hex string, or an
    /// object holding it as <c>data</c> or <c>result</c>, possibly keyed by transaction hash).</summary>
    public static string? FindRevertData(object? rpcErrorData, int depth = 0)
    {
        if (depth > 4)
        {
            return null;
        }

        switch (rpcErrorData)
        {
            case string s when IsHexData(s):
                return s;
            case JValue { Type: JTokenType.String } v when IsHexData((string)v!):
                return (string)v!;
            case JObject o:
                foreach (var name in new[] { "data", "result", "returnData" })
                {
                    if (FindRevertData(o[name], depth + 1) is { } found)
                    {
                        return found;
                    }
                }

                foreach (var property in o.Properties())
                {
                    if (property.Value is JObject && FindRevertData(property.Value, depth + 1) is { } nested)
                    {
                        return nested;
                    }
                }

                return null;
            default:
                return null;
        }
    }

    private static bool IsHexData(string s) => s.Length >= 2 && s.StartsWith("0x", StringComparison.Ordinal) && s.Length % 2 == 0 && ChainHex.IsHex(s.AsSpan(2));

    /// <summary>The revert as the user's error: a code and a sentence that says what the contract refused.</summary>
    public ChainException ToException(string action)
    {
        string Arg(string name) => Arguments.TryGetValue(name, out var v) ? Format(v) : "?";
        var (code, message) = Error switch
        {
            "NameOwnedByAnotherKey" => (ChainErrorCodes.NameOwnedByAnotherKey, $"name owned by another key: '{Arg("name")}' belongs to {Arg("owner")}, and this record is signed by {Arg("signer")}"),
            "VersionExists" => (ChainErrorCodes.VersionExists, $"version exists: {Arg("name")}@{Arg("version")} is published already and published versions are immutable"),
            "UnknownVersion" => (ChainErrorCodes.UnknownVersion, $"{Arg("name")}@{Arg("version")} is not published"),
            "AlreadyYanked" => (ChainErrorCodes.AlreadyYanked, $"{Arg("name")}@{Arg("version")} is yanked already"),
            "SignatureExpired" => (ChainErrorCodes.SignatureExpired, $"signature expired: its deadline {Time(Arguments.GetValueOrDefault("deadline"))} is before the block time {Time(Arguments.GetValueOrDefault("blockTime"))}"),
            "InvalidSignature" => (ChainErrorCodes.InvalidSignature, "invalid signature: it is malformed or does not recover to a key (65 bytes, v 27/28, low s)"),
            "BadNonce" => (ChainErrorCodes.BadNonce, $"stale or replayed signature: it carries nonce {Arg("given")} but the name's nonce is {Arg("expected")}"),
            "InvalidField" => (ChainErrorCodes.InvalidField, $"the contract refused field '{Arg("field")}': empty, zero or over its limit (name ≤ 128 bytes, version ≤ 64, statement URI ≤ 1024, reason ≤ 256, checkpoint ≤ 2048)"),
            "AnchorExists" => (ChainErrorCodes.AnchorExists, $"this log size is anchored already by this sender (root {Arg("root")})"),
            "Error" => (ChainErrorCodes.Reverted, $"reverted: {Arg("reason")}"),
            "Panic" => (ChainErrorCodes.Reverted, $"reverted with panic code {Arg("code")}"),
            "" => (ChainErrorCodes.Reverted, "reverted without a reason (is this the InfraMind registry contract?)"),
            _ => (ChainErrorCodes.Reverted, $"reverted with unknown error {Error} (data {Data})"),
        };
        return new ChainException(code, $"{action}: {message}.") { Revert = this };
    }

    private static string Format(object? value) => value switch
    {
        null => "null",
        byte[] bytes => "0x" + Convert.ToHexStringLower(bytes),
        string s when ChainRegistryAddress.IsAddress(s) => new Nethereum.Util.AddressUtil().ConvertToChecksumAddress(s),
        BigInteger b => b.ToString(CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static string Time(object? seconds) => seconds is BigInteger b && b < long.MaxValue
        ? DateTimeOffset.FromUnixTimeSeconds((long)b).ToString("u", CultureInfo.InvariantCulture)
        : Format(seconds);
}
