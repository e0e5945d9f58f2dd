using InfraMind.Cli;

using var signals = new TerminationSignals();
return await InfraCli.RunAsync(args, CliContext.FromProcess(), signals.Token);
