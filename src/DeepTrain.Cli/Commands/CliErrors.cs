using DeepTrain.Layers;

namespace DeepTrain.Cli.Commands;

/// <summary>
/// Turns the engine's expected failures (bad model, bad data, bad checkpoint, bad shape) into one line on
/// stderr and exit code 1; anything unexpected keeps its stack trace.
/// </summary>
internal static class CliErrors
{
    /// <summary>Runs <paramref name="body"/>, reporting expected failures as "error: …".</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (IsExpected(e))
        {
            // ArgumentException appends " (Parameter 'x')" to its message: the text already names the argument.
            string message = e is ArgumentException { ParamName: { } p } ? e.Message.Replace($" (Parameter '{p}')", "") : e.Message;
            Console.Error.WriteLine($"error: {message}");
            return 1;
        }
    }

    /// <summary>Failures caused by the user's input or environment, reported without a stack trace.</summary>
    private static bool IsExpected(Exception e) => e is ArgumentException or LayerShapeException or FileNotFoundException
        or DirectoryNotFoundException or InvalidOperationException or FormatException or NotSupportedException or InvalidDataException
        or Memory.InsufficientMemoryForPlanException
        || e.GetType().Namespace is "DeepTrain.Data" or "DeepTrain.Checkpoints" or "DeepTrain.Training";
}
