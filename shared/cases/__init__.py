"""Cases as the api, the CLI and the worker read them: timeline, contacts, links"""
