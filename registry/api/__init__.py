"""The GraphQL API: strawberry types and resolvers (`schema`) served by starlette (`app`)."""
