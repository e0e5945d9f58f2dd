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
    private readonly HttpClient _http;

    public ChainRpc(Uri endpoint, TimeSpan timeout)
    {
        Endpoint = endpoint;
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5), AllowAutoRedirect = false, UseCookies = false })
        {
            Timeout = timeout,
            // JSON-RPC answers of a registry are small; a hostile node must not make us buffer without end.
            MaxResponseContentBufferSize = 32 * 1024 * 1024,
        };
        Web3 = new Web3(new RpcClient(endpoint, _http, null, null, null));
        Web3.TransactionManager.UseLegacyAsDefault = true;
    }

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
            throw new ChainException(ChainErrorCodes.RpcError, $"{what}: the chain node at {Endpoint} answered error {ex.RpcError.Code}: {ex.RpcError.Message}", null, ex);
        }
        catch (Exception ex) when (IsTransportFailure(ex, cancellationToken))
        {
            throw Unavailable(what, ex);
        }
    }

    public ChainException Unavailable(string what, Exception ex)
    {
        var inner = ex;
        while (inner.InnerException is not null && inner is RpcClientUnknownException or RpcClientTimeoutException)
        {
            inner = inner.InnerException;
        }

        var answer = inner is Newtonsoft.Json.JsonException ? "answers something that is not JSON-RPC" : "does not answer";
        return new ChainException(ChainErrorCodes.RpcUnavailable, $"{what}: the chain node at {Endpoint} {answer} ({inner.GetType().Name}: {inner.Message}).", null, ex);
    }

    public static bool IsTransportFailure(Exception ex, CancellationToken cancellationToken) =>
        ex is RpcClientUnknownException or RpcClientTimeoutException or HttpRequestException or IOException or System.Net.Sockets.SocketException
            or Newtonsoft.Json.JsonException
        || (ex is TaskCanceledException or TimeoutException && !cancellationToken.IsCancellationRequested);

    public Task<long> ChainIdAsync(CancellationToken cancellationToken) =>
        CallAsync("reading the chain id", async () => (long)(await Web3.Eth.ChainId.SendRequestAsync().ConfigureAwait(false)).Value, cancellationToken);

    public Task<long> BlockNumberAsync(CancellationToken cancellationToken) =>
        CallAsync("reading the block number", async () => (long)(await Web3.Eth.Blocks.GetBlockNumber.SendRequestAsync().ConfigureAwait(false)).Value, cancellationToken);

    /// <summary>The hash and time of block <paramref name="number"/>, or null when the chain is not that long.</summary>
    public Task<(string Hash, long Timestamp)?> BlockAsync(long number, CancellationToken cancellationToken) =>
        CallAsync($"reading block {number}", async () =>
        {
            var block = await Web3.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(new BlockParameter(new HexBigInteger(number))).ConfigureAwait(false);
            return block is null ? ((string, long)?)null : (block.BlockHash.ToLowerInvariant(), (long)block.Timestamp.Value);
        }, cancellationToken);

    public Task<string> GetCodeAsync(string address, CancellationToken cancellationToken) =>
        CallAsync($"reading the code at {address}", () => Web3.Eth.GetCode.SendRequestAsync(address), cancellationToken);

    public Task<BigInteger> BalanceAsync(string address, CancellationToken cancellationToken) =>
        CallAsync($"reading the balance of {address}", async () => (await Web3.Eth.GetBalance.SendRequestAsync(address).ConfigureAwait(false)).Value, cancellationToken);

    public Task<FilterLog[]> GetLogsAsync(NewFilterInput filter, CancellationToken cancellationToken) =>
        CallAsync("reading registry events", () => Web3.Eth.Filters.GetLogs.SendRequestAsync(filter), cancellationToken);

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
            return await Web3.Eth.Transactions.Call.SendRequestAsync(input, block ?? BlockParameter.CreateLatest()).WaitAsync(cancellationToken).ConfigureAwait(false);
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
            return new ChainException(ChainErrorCodes.Reverted, $"{action}: {message}.", null, ex);
        }

        if (message.Contains("insufficient funds", StringComparison.OrdinalIgnoreCase) || message.Contains("enough funds", StringComparison.OrdinalIgnoreCase))
        {
            return new ChainException(ChainErrorCodes.InsufficientFunds, $"{action}: the payer cannot pay for gas: {message}.", null, ex);
        }

        return new ChainException(ChainErrorCodes.RpcError, $"{action}: the chain node at {Endpoint} answered error {ex.RpcError.Code}: {message}", null, ex);
    }
}
