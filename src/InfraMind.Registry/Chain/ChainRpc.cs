using System.Numerics;
using Nethereum.ABI.FunctionEncoding;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Hex.HexTypes;
using Nethereum.JsonRpc.Client;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;

namespace InfraMind.Registry.Chain;

/// <summary>
/// JSON-RPC to one EVM node through Nethereum, with every transport failure turned into
/// <see cref="ChainErrorCodes.RpcUnavailable"/> (naming the endpoint) and every revert decoded against the registry ABI.
/// Nethereum's calls take no cancellation token, so each wait is cut by <see cref="Task.WaitAsync(CancellationToken)"/>
/// and bounded by the HTTP client's timeout.
/// </summary>
internal sealed class ChainRpc : IDisposable
{
    /// <summary>
    /// The largest JSON-RPC answer read (body bytes). A registry's answers are small; an eth_getLogs range of a busy
    /// registry stays far below it (each event is under 2 KiB, bounded by the contract's field limits).
    /// </summary>
    public const int MaxAnswerBytes = 32 * 1024 * 1024;

    /// <summary>The longest text of a node's own (an error message) quoted in our messages.</summary>
    public const int MaxQuotedChars = 200;

    private readonly HttpClient _http;

    public ChainRpc(Uri endpoint, TimeSpan timeout)
    {
        Endpoint = endpoint;
        Timeout = timeout;
        // The whole exchange (connect, headers, body) is bounded by the client's timeout; the body by MaxAnswerBytes,
        // read by BoundedAnswers, which also says in its own words what was wrong (a status, an answer too large).
        _http = new HttpClient(new BoundedAnswers(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5), AllowAutoRedirect = false, UseCookies = false }))
        {
            Timeout = timeout,
            MaxResponseContentBufferSize = MaxAnswerBytes,
        };
        Web3 = new Web3(new RpcClient(endpoint, _http, null, null, null));
        Web3.TransactionManager.UseLegacyAsDefault = true;
    }

    public TimeSpan Timeout { get; }

    public Uri Endpoint { get; }

    public Web3 Web3 { get; }

    public void Dispose() => _http.Dispose();

    /// <summary>Runs one RPC; transport failures become <see cref="ChainErrorCodes.RpcUnavailable"/>, node errors <see cref="ChainErrorCodes.RpcError"/>.</summary>
    public async Task<T> CallAsync<T>(string what, Func<Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RpcResponseException ex)
        {
            throw new ChainException(ChainErrorCodes.RpcError, $"{what}: the chain node at {Endpoint} answered error {ex.RpcError.Code}: {Quote(ex.RpcError.Message)}", null, ex);
        }
        catch (Exception ex) when (IsTransportFailure(ex, cancellationToken))
        {
            throw Unavailable(what, ex);
        }
    }

    /// <summary>
    /// A node that does not answer, or answers something that is not JSON-RPC, as <see cref="ChainErrorCodes.RpcUnavailable"/>
    /// in our own words (what failed, and which limit), never the text of .NET, Json.NET or Nethereum: that stays in the
    /// inner exception, for logs.
    /// </summary>
    public ChainException Unavailable(string what, Exception ex)
    {
        var inner = ex;
        while (inner.InnerException is not null && inner is RpcClientUnknownException or RpcClientTimeoutException or AggregateException)
        {
            inner = inner.InnerException;
        }

        var seconds = Timeout.TotalSeconds.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture);
        var answer = inner switch
        {
            AnswerRefusedException refused => refused.Message,
            Newtonsoft.Json.JsonReaderException json when json.Message.Contains("MaxDepth", StringComparison.Ordinal) =>
                $"answers something that is not JSON-RPC (JSON nested deeper than 64 levels, at line {json.LineNumber}, position {json.LinePosition})",
            Newtonsoft.Json.JsonReaderException json => $"answers something that is not JSON-RPC (invalid JSON at line {json.LineNumber}, position {json.LinePosition})",
            Newtonsoft.Json.JsonException => "answers something that is not JSON-RPC (a JSON answer of another shape)",
            HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError } => "cannot be reached (its host name does not resolve)",
            HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError } => "cannot be reached over TLS (the TLS handshake failed)",
            HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded } or HttpIOException { HttpRequestError: HttpRequestError.ResponseEnded }
                => "does not answer (it closed the connection before its answer ended)",
            HttpRequestException { HttpRequestError: HttpRequestError.InvalidResponse or HttpRequestError.HttpProtocolError }
                or HttpIOException { HttpRequestError: HttpRequestError.InvalidResponse or HttpRequestError.HttpProtocolError }
                => "answers something that is not HTTP",
            HttpRequestException { StatusCode: { } status } => $"answered HTTP {(int)status} ({status}), not a JSON-RPC answer",
            TaskCanceledException or TimeoutException or RpcClientTimeoutException => $"does not answer within {seconds} s",
            _ => "does not answer (the connection was refused or broke)",
        };
        return new ChainException(ChainErrorCodes.RpcUnavailable, $"{what}: the chain node at {Endpoint} {answer}.", null, ex);
    }

    /// <summary>A node's own text (an error message) as our messages quote it: at most <see cref="MaxQuotedChars"/> characters, control characters escaped.</summary>
    public static string Quote(string? text)
    {
        text ??= "";
        var cut = text.Length > MaxQuotedChars ? TerminalText.Cut(text, MaxQuotedChars) + $"… ({text.Length} characters)" : text;
        return TerminalText.Escape(cut);
    }

    /// <summary>A node answer that is not what the protocol promises: <see cref="ChainErrorCodes.InvalidAnswer"/>.</summary>
    public ChainException Invalid(string what, string problem) =>
        new(ChainErrorCodes.InvalidAnswer, $"{what}: the chain node at {Endpoint} answered {problem}.");

    /// <summary>A JSON-RPC quantity that must be a number from 0 to <paramref name="max"/> (block numbers, times, log indexes …).</summary>
    public long Quantity(HexBigInteger? value, string what, string field, long max = long.MaxValue) =>
        value?.Value is { } v && v >= 0 && v <= max ? (long)v : throw Invalid(what, $"{field} {(value is null ? "missing" : Quote(value.HexValue))}, not a number from 0 to {max}");

    /// <summary>A 32-byte hash (block, transaction) as 0x + 64 lowercase hex digits, or <see cref="ChainErrorCodes.InvalidAnswer"/>.</summary>
    public string Hash(string? value, string what, string field) =>
        value is { Length: 66 } && value.StartsWith("0x", StringComparison.Ordinal) && ChainHex.IsHex(value.AsSpan(2))
            ? value.ToLowerInvariant()
            : throw Invalid(what, $"{field} {(value is null ? "missing" : "'" + Quote(value) + "'")}, not a 32-byte hash");

    public static bool IsTransportFailure(Exception ex, CancellationToken cancellationToken) =>
        ex is RpcClientUnknownException or RpcClientTimeoutException or HttpRequestException or IOException or System.Net.Sockets.SocketException
            or Newtonsoft.Json.JsonException
        || (ex is TaskCanceledException or TimeoutException && !cancellationToken.IsCancellationRequested);

    public Task<long> ChainIdAsync(CancellationToken cancellationToken) =>
        CallAsync("reading the chain id", async () => Quantity(await Web3.Eth.ChainId.SendRequestAsync().ConfigureAwait(false), "reading the chain id", "chain id"), cancellationToken);

    public Task<long> BlockNumberAsync(CancellationToken cancellationToken) =>
        CallAsync("reading the block number", async () => Quantity(await Web3.Eth.Blocks.GetBlockNumber.SendRequestAsync().ConfigureAwait(false), "reading the block number", "block number"), cancellationToken);

    /// <summary>The hash and time of block <paramref name="number"/>, or null when the chain is not that long.</summary>
    public Task<(string Hash, long Timestamp)?> BlockAsync(long number, CancellationToken cancellationToken) =>
        CallAsync($"reading block {number}", async () =>
        {
            var block = await Web3.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(new BlockParameter(new HexBigInteger(number))).ConfigureAwait(false);
            if (block is null)
            {
                return ((string, long)?)null;
            }

            var what = $"reading block {number}";
            if (Quantity(block.Number, what, "a block whose number is") != number)
            {
                throw Invalid(what, $"block {block.Number.Value} instead");
            }

            return (Hash(block.BlockHash, what, "a block hash"), Quantity(block.Timestamp, what, "a block time", MaxTimestamp));
        }, cancellationToken);

    /// <summary>The last second DateTimeOffset holds (9999-12-31): a block time past it is no block time.</summary>
    public const long MaxTimestamp = 253402300799;

    public Task<string> GetCodeAsync(string address, CancellationToken cancellationToken) =>
        CallAsync($"reading the code at {address}", () => Web3.Eth.GetCode.SendRequestAsync(address), cancellationToken);

    public Task<BigInteger> BalanceAsync(string address, CancellationToken cancellationToken) =>
        CallAsync($"reading the balance of {address}", async () => (await Web3.Eth.GetBalance.SendRequestAsync(address).ConfigureAwait(false))?.Value
            ?? throw Invalid($"reading the balance of {address}", "no balance"), cancellationToken);

    public Task<FilterLog[]> GetLogsAsync(NewFilterInput filter, CancellationToken cancellationToken) =>
        CallAsync("reading registry events", async () => await Web3.Eth.Filters.GetLogs.SendRequestAsync(filter).ConfigureAwait(false)
            ?? throw Invalid("reading registry events", "null, not a list of logs"), cancellationToken);

    /// <summary>eth_call of a view function; a revert is decoded (<paramref name="action"/> starts its message).</summary>
    public async Task<TOutput> QueryAsync<TFunction, TOutput>(string contract, TFunction message, string action, CancellationToken cancellationToken, BlockParameter? block = null)
        where TFunction : FunctionMessage, new()
        where TOutput : IFunctionOutputDTO, new()
    {
        var output = await EthCallAsync(contract, message.GetCallData().ToHex(true), null, action, cancellationToken, block).ConfigureAwait(false);
        try
        {
            return new FunctionCallDecoder().DecodeFunctionOutput<TOutput>(output);
        }
        catch (Exception ex) when (ex is AbiEncodingException or ArgumentException or FormatException or IndexOutOfRangeException or InvalidOperationException or OverflowException)
        {
            throw new ChainException(ChainErrorCodes.NotARegistry, $"{action}: {contract} answered something that is not the registry's {typeof(TFunction).Name} output.", null, ex);
        }
    }

    /// <summary>eth_call of a view function returning one 32-byte word (or null when the contract answered nothing).</summary>
    public async Task<byte[]?> QueryWordAsync<TFunction>(string contract, TFunction message, string action, CancellationToken cancellationToken)
        where TFunction : FunctionMessage, new()
    {
        var output = await EthCallAsync(contract, message.GetCallData().ToHex(true), null, action, cancellationToken).ConfigureAwait(false);
        var hex = output.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? output[2..] : output;
        return hex.Length == 64 ? Convert.FromHexString(hex) : null;
    }

    /// <summary>eth_call; reverts become decoded <see cref="ChainException"/>s.</summary>
    public async Task<string> EthCallAsync(string to, string data, string? from, string action, CancellationToken cancellationToken, BlockParameter? block = null)
    {
        var input = new CallInput { To = to, Data = data, From = from };
        try
        {
            return await Web3.Eth.Transactions.Call.SendRequestAsync(input, block ?? BlockParameter.CreateLatest()).WaitAsync(cancellationToken).ConfigureAwait(false)
                ?? throw Invalid(action, "null, not the call's output");
        }
        catch (RpcResponseException ex)
        {
            throw RevertOrError(ex, action);
        }
        catch (Exception ex) when (ex is SmartContractRevertException or SmartContractCustomErrorRevertException)
        {
            var data2 = ex is SmartContractCustomErrorRevertException custom ? custom.ExceptionEncodedData : null;
            throw data2 is null ? new ChainException(ChainErrorCodes.Reverted, $"{action}: reverted: {ex.Message}.", null, ex) : ContractRevert.Decode(data2).ToException(action);
        }
        catch (Exception ex) when (IsTransportFailure(ex, cancellationToken))
        {
            throw Unavailable(action, ex);
        }
    }

    /// <summary>A node error that carries revert data is the contract's refusal, decoded; anything else names the node's message.</summary>
    public ChainException RevertOrError(RpcResponseException ex, string action)
    {
        var data = ContractRevert.FindRevertData(ex.RpcError.Data);
        if (data is not null && data.Length >= 10)
        {
            return ContractRevert.Decode(data).ToException(action);
        }

        var message = ex.RpcError.Message ?? "";
        if (message.Contains("revert", StringComparison.OrdinalIgnoreCase))
        {
            return new ChainException(ChainErrorCodes.Reverted, $"{action}: {Quote(message)}.", null, ex);
        }

        if (message.Contains("insufficient funds", StringComparison.OrdinalIgnoreCase) || message.Contains("enough funds", StringComparison.OrdinalIgnoreCase))
        {
            return new ChainException(ChainErrorCodes.InsufficientFunds, $"{action}: the payer cannot pay for gas: {Quote(message)}.", null, ex);
        }

        return new ChainException(ChainErrorCodes.RpcError, $"{action}: the chain node at {Endpoint} answered error {ex.RpcError.Code}: {Quote(message)}", null, ex);
    }
}

/// <summary>Why <see cref="BoundedAnswers"/> refused an answer, in words a user reads (after "the chain node at URL").</summary>
internal sealed class AnswerRefusedException(string message) : IOException(message);

/// <summary>
/// Reads every JSON-RPC answer itself, before Nethereum sees it: a status other than 2xx is refused as such (an HTML
/// error page is no JSON-RPC), and a body past <see cref="ChainRpc.MaxAnswerBytes"/> is refused unread, whether it
/// declares its length or streams without end. The client's timeout bounds the whole read, slow bodies included.
/// </summary>
internal sealed class BoundedAnswers(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        try
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new AnswerRefusedException($"answered HTTP {(int)response.StatusCode} ({response.StatusCode}), not a JSON-RPC answer");
            }

            const int max = ChainRpc.MaxAnswerBytes;
            if (response.Content.Headers.ContentLength > max)
            {
                throw new AnswerRefusedException($"answered {response.Content.Headers.ContentLength} bytes, more than the {max / 1024 / 1024} MiB a JSON-RPC answer may have; refused unread");
            }

            byte[] bytes;
            await using (var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false))
            {
                bytes = await BoundedBody.ReadAsync(stream, null, max, cancellationToken).ConfigureAwait(false)
                    ?? throw new AnswerRefusedException($"answered more than the {max / 1024 / 1024} MiB a JSON-RPC answer may have; the rest was refused unread");
            }

            var content = new ByteArrayContent(bytes);
            foreach (var header in response.Content.Headers)
            {
                content.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            content.Headers.ContentLength = bytes.Length;
            response.Content = content;
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }
}
