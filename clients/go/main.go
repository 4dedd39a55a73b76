// A llama-mesh client in Go: stubs generated from protos/ (protoc-gen-go, protoc-gen-go-grpc; see build.sh), calls
// through the gateway.
//
//	llama-mesh-go -address 127.0.0.1:50051 models
//	llama-mesh-go -address 127.0.0.1:50051 -model smollm2-135m-instruct -max-tokens 16 chat "Say hello."
//
// `models` prints one model id per line; `chat` prints the reply as it streams, then a newline. A failed call prints
// "error: <CODE>: <message>" on stderr and exits 1. $LLAMA_MESH_TOKEN, when set, is sent as the bearer token.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	commonv1 "llamamesh.dev/gen/go/llama/common/v1"
	inferencev1 "llamamesh.dev/gen/go/llama/inference/v1"
	registryv1 "llamamesh.dev/gen/go/llama/registry/v1"
)

// protoCodec marshals with the protobuf API the stubs are generated for (google.golang.org/protobuf). Debian's
// grpc-go 1.33 would otherwise use its github.com/golang/protobuf 1.3, which predates that API; registered under
// grpc's own name "proto", it replaces the default codec.
type protoCodec struct{}

func (protoCodec) Marshal(v interface{}) ([]byte, error) { return proto.Marshal(v.(proto.Message)) }
func (protoCodec) Unmarshal(data []byte, v interface{}) error {
	return proto.Unmarshal(data, v.(proto.Message))
}
func (protoCodec) Name() string { return "proto" }

func init() {
	encoding.RegisterCodec(protoCodec{})
}

func fail(err error) {
	if s, ok := status.FromError(err); ok {
		fmt.Fprintf(os.Stderr, "error: %s: %s\n", strings.ToUpper(codeName(s.Code().String())), s.Message())
	} else {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
	}
	os.Exit(1)
}

// codeName turns grpc-go's "NotFound" into the canonical "NOT_FOUND".
func codeName(camel string) string {
	var out strings.Builder
	for i, r := range camel {
		if i > 0 && r >= 'A' && r <= 'Z' {
			out.WriteByte('_')
		}
		out.WriteRune(r)
	}
	return out.String()
}

func withToken(ctx context.Context) context.Context {
	if token := os.Getenv("LLAMA_MESH_TOKEN"); token != "" {
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	return ctx
}

// listModels returns every model, following the pages until next_page_token is empty.
func listModels(conn *grpc.ClientConn) ([]string, error) {
	registry := registryv1.NewRegistryServiceClient(conn)
	var ids []string
	token := ""
	for {
		ctx, cancel := context.WithTimeout(withToken(context.Background()), 30*time.Second)
		reply, err := registry.ListModels(ctx, &registryv1.ListModelsRequest{PageSize: 100, PageToken: token})
		cancel()
		if err != nil {
			return nil, err
		}
		for _, model := range reply.GetModels() {
			ids = append(ids, model.GetIdentifier())
		}
		token = reply.GetNextPageToken()
		if token == "" {
			return ids, nil
		}
	}
}

func streamChat(conn *grpc.ClientConn, model, text string, maxTokens int32) error {
	inference := inferencev1.NewInferenceServiceClient(conn)
	ctx, cancel := context.WithTimeout(withToken(context.Background()), 10*time.Minute)
	defer cancel()
	request := &inferencev1.StreamChatCompletionRequest{
		ModelId: model,
		Messages: []*commonv1.Message{{
			Role:    commonv1.Role_ROLE_USER,
			Content: &commonv1.Content{Value: &commonv1.Content_Text{Text: text}},
		}},
		SamplingParams: &commonv1.SamplingParams{MaxTokens: &maxTokens},
	}
	stream, err := inference.StreamChatCompletion(ctx, request)
	if err != nil {
		return err
	}
	for {
		event, err := stream.Recv()
		if err == io.EOF {
			fmt.Println()
			return nil
		}
		if err != nil {
			return err
		}
		if chunk := event.GetChunk(); chunk != nil {
			fmt.Print(chunk.GetTextDelta())
		}
		if streamError := event.GetError(); streamError != nil {
			return fmt.Errorf("%s: %s", streamError.GetReason(), streamError.GetMessage())
		}
	}
}

func main() {
	address := flag.String("address", "127.0.0.1:50051", "the gateway")
	model := flag.String("model", "", "the model to chat with")
	maxTokens := flag.Int("max-tokens", 64, "the reply's token budget")
	flag.Parse()
	conn, err := grpc.Dial(*address, grpc.WithInsecure())
	if err != nil {
		fail(err)
	}
	defer conn.Close()
	switch flag.Arg(0) {
	case "models":
		ids, err := listModels(conn)
		if err != nil {
			fail(err)
		}
		for _, id := range ids {
			fmt.Println(id)
		}
	case "chat":
		if *model == "" || flag.NArg() < 2 {
			fmt.Fprintln(os.Stderr, "chat needs -model and a message")
			os.Exit(2)
		}
		if err := streamChat(conn, *model, strings.Join(flag.Args()[1:], " "), int32(*maxTokens)); err != nil {
			fail(err)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: llama-mesh-go [-address HOST:PORT] models | -model ID [-max-tokens N] chat TEXT")
		os.Exit(2)
	}
}
