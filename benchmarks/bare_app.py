"""The baseline: the same server stack (uvicorn + FastAPI) with an endpoint that only reads
the body and answers 200."""

from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/webhooks/stripe")
async def bare(request: Request) -> Response:
    await request.body()
    return Response(b'{"received":true}', media_type="application/json")
