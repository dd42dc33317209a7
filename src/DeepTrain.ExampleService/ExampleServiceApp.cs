using DeepTrain.Hosting;
using DeepTrain.Inference;

namespace DeepTrain.ExampleService;

/// <summary>
/// The example service: serves the checkpoint named by configuration <c>DeepTrain:Checkpoint</c> (environment
/// <c>DeepTrain__Checkpoint</c>, or <c>--DeepTrain:Checkpoint=path</c>) through one <see cref="InferenceSession"/>.
/// <c>POST /predict[?k=5]</c> with a PNG, raw bytes or a JSON array answers class, probability and top-k; <c>GET /health</c>
/// answers the model it serves. Bad input gets 400 with what was expected. Optional: <c>DeepTrain:MaxBatchSize</c>,
/// <c>DeepTrain:MaxConcurrency</c>, <c>DeepTrain:MaxBodyBytes</c> (default 1 MiB), <c>DeepTrain:BatchDelayMs</c> (turns on dynamic batching).
/// </summary>
public static class ExampleServiceApp
{
    /// <summary>Builds the app (not started): tests start it on 127.0.0.1:0, <c>Program</c> runs it.</summary>
    /// <exception cref="InvalidOperationException">No checkpoint is configured.</exception>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        configure?.Invoke(builder);
        var config = builder.Configuration.GetSection("DeepTrain");
        string checkpoint = config["Checkpoint"] ?? throw new InvalidOperationException("no checkpoint to serve: set DeepTrain:Checkpoint (environment DeepTrain__Checkpoint) to a model.safetensors");
        int maxBody = config.GetValue("MaxBodyBytes", 1 << 20);
        int? delay = config.GetValue<int?>("BatchDelayMs");
        builder.Services.AddDeepTrainInference(checkpoint, r => r.Session = r.Session with
        {
            MaxBatchSize = config.GetValue("MaxBatchSize", 16),
            MaxConcurrency = config.GetValue("MaxConcurrency", r.Session.MaxConcurrency),
            DynamicBatching = delay is { } ms ? new DynamicBatchingOptions { MaxDelay = TimeSpan.FromMilliseconds(ms) } : null,
        });
        var app = builder.Build();
        app.MapGet("/health", (InferenceSession s) => Results.Ok(new Health("ok", s.ModelName, ImageInput.Describe(s), s.Classes, s.Device.ToString())));
        app.MapPost("/predict", (HttpRequest request, InferenceSession session, CancellationToken ct) => Predict(request, session, maxBody, ct));
        return app;
    }

    private static async Task<IResult> Predict(HttpRequest request, InferenceSession session, int maxBody, CancellationToken ct)
    {
        try
        {
            int k = 5;
            if (request.Query.TryGetValue("k", out var kText) && (!int.TryParse(kText, out k) || k < 1 || k > session.Classes))
                throw new BadInputException($"k is '{kText}'; expected an integer 1 to {session.Classes}");
            var body = await ReadBody(request, maxBody, ct);
            var pixels = ImageInput.Read(body, request.ContentType, session);
            var x = new float[session.SampleSize];
            session.Normalize(pixels, x);
            var p = new float[session.Classes];
            await session.RunAsync(x, p, ct);
            var prediction = Top(session, p, k);
            return Results.Ok(new PredictResponse(prediction.Best.Index, prediction.Best.Name, prediction.Best.Probability,
                prediction.TopK.Select(c => new ClassResponse(c.Index, c.Name, c.Probability)).ToArray()));
        }
        catch (BadInputException e)
        {
            return Results.BadRequest(new ErrorResponse(e.Message));
        }
    }

    /// <summary>The body, refused past <paramref name="max"/> bytes without reading the rest.</summary>
    private static async Task<byte[]> ReadBody(HttpRequest request, int max, CancellationToken ct)
    {
        if (request.ContentLength > max) throw new BadInputException($"body of {request.ContentLength} bytes; expected at most {max}");
        using var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int n;
        while ((n = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + n > max) throw new BadInputException($"body longer than {max} bytes; expected at most {max}");
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    /// <summary>softmax of the logits, then the k best (ties: lower index first).</summary>
    private static Prediction Top(InferenceSession session, float[] logits, int k)
    {
        float max = logits.Max();
        var e = logits.Select(z => Math.Exp(z - max)).ToArray();
        double sum = e.Sum();
        var top = Enumerable.Range(0, logits.Length).OrderByDescending(j => logits[j]).ThenBy(j => j).Take(k)
            .Select(j => new ClassScore(j, session.ClassNames[j], (float)(e[j] / sum))).ToArray();
        return new Prediction(top[0], top);
    }
}

/// <summary>GET /health.</summary>
public sealed record Health(string Status, string Model, string Input, int Classes, string Device);
/// <summary>One class of a prediction.</summary>
public sealed record ClassResponse(int Index, string Name, float Probability);
/// <summary>POST /predict.</summary>
public sealed record PredictResponse(int Class, string Name, float Probability, ClassResponse[] TopK);
/// <summary>A 400's body.</summary>
public sealed record ErrorResponse(string Error);
