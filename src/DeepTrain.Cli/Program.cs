using System.CommandLine;
using DeepTrain.Cli.Commands;

namespace DeepTrain.Cli;

/// <summary>The <c>deeptrain</c> command: info, models, plan, train, eval, export, lr-find, bench, bench-kernels, plot.</summary>
public static class Program
{
    /// <summary>Parses the command line and runs the command; returns the exit code.</summary>
    public static int Main(string[] args)
    {
        // A plain Command named "deeptrain" rather than RootCommand, whose name is the entry assembly's
        // ("DeepTrain.Cli", as the dll cannot be called deeptrain): help and errors then show the command
        // users type. RootCommand's help and version options are added by hand.
        var root = new Command("deeptrain", "DeepTrain: train ResNet-scale convolutional networks from .NET")
        {
            new System.CommandLine.Help.HelpOption(),
            new VersionOption(),
            InfoCommand.Create(),
            ModelsCommand.Create(),
            PlanCommand.Create(),
            TrainCommand.Create(),
            EvalCommand.Create(),
            ExportCommand.Create(),
            LrFindCommand.Create(),
            BenchCommand.Create(),
            BenchKernelsCommand.Create(),
            PlotCommand.Create(),
        };
        var verbose = new Option<bool>("--verbose")
        {
            Description = $"On an error, print the stack trace too (for bug reports; so does {CliErrors.DebugVariable}=1)", Recursive = true,
        };
        root.Options.Add(verbose);
        var result = root.Parse(args);
        CliErrors.ShowStackTrace = result.GetValue(verbose) || Environment.GetEnvironmentVariable(CliErrors.DebugVariable) == "1";
        // A usage error is one "error:" line per bad option and exit code 2; help and --version still win.
        if (result.Errors.Count > 0 && result.Action is not System.CommandLine.Help.HelpAction && !IsVersion(result))
            return OptionChecks.ReportUsageErrors(result);
        return result.Invoke();
    }

    private static bool IsVersion(ParseResult result) => result.CommandResult.Parent is null && result.Tokens.Any(t => t.Value == "--version");
}
