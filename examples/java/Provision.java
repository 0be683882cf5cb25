// POST /provision from a Java service: an OpenIM token for one of your users (JDK 11+, no libraries).
//
//   GATEWAY_URL=http://127.0.0.1:3000 GATEWAY_API_KEY=<key> java Provision.java <userID> [platformID]
//
// Prints the answer (JSON: userID, token, expiresAt, apiAddr, wsAddr, ...). On a refusal it prints the gateway's
// answer, whose code and requestId say what went wrong (quote the requestId to whoever runs the gateway), and
// exits 1. A real service parses the JSON with the library it already uses (Jackson, Gson).
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

public class Provision {
  static final int MAX_RETRIES = 2;          // 429 and 503 with Retry-After are waited out this many times
  static final long MAX_RETRY_WAIT_S = 60;   // a longer Retry-After is not waited out
  static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  static HttpResponse<String> provision(String baseUrl, String apiKey, String userID, int platformID)
      throws IOException, InterruptedException {
    // userID is written into JSON by hand here: escape it, or build the body with your JSON library.
    String body = "{\"userID\":\"" + userID.replace("\\", "\\\\").replace("\"", "\\\"") + "\",\"platformID\":" + platformID + "}";
    HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl.replaceAll("/+$", "") + "/provision"))
        .timeout(Duration.ofSeconds(30))
        .header("content-type", "application/json")
        .header("x-api-key", apiKey)
        .POST(HttpRequest.BodyPublishers.ofString(body))
        .build();
    for (int attempt = 0; ; attempt++) {
      HttpResponse<String> response = CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
      long wait = response.headers().firstValue("retry-after").filter(v -> v.matches("\\d+")).map(Long::parseLong).orElse(-1L);
      boolean retriable = response.statusCode() == 429 || response.statusCode() == 503;
      if (!retriable || wait < 0 || wait > MAX_RETRY_WAIT_S || attempt >= MAX_RETRIES) return response;
      Thread.sleep(wait * 1000);
    }
  }

  public static void main(String[] args) throws Exception {
    String baseUrl = System.getenv("GATEWAY_URL");
    String apiKey = System.getenv("GATEWAY_API_KEY");
    if (args.length < 1 || baseUrl == null || apiKey == null) {
      System.err.println("usage: GATEWAY_URL=... GATEWAY_API_KEY=... java Provision.java <userID> [platformID]");
      System.exit(1);
    }
    HttpResponse<String> response = provision(baseUrl, apiKey, args[0], args.length > 1 ? Integer.parseInt(args[1]) : 5);
    // 201: this call registered the user; 200: it existed. Anything else: {statusCode, code, message, requestId}.
    if (response.statusCode() == 200 || response.statusCode() == 201) {
      System.out.println(response.body());
    } else {
      System.err.println(response.statusCode() + " " + response.body());
      System.exit(1);
    }
  }
}
