from django.http import JsonResponse
from django.shortcuts import redirect, render


def home(request):
    """The issue list is the home page."""
    return redirect("issues:list")


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"detail": "Not found.", "errors": {}}, status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    if _wants_json(request):
        return JsonResponse({"detail": "Server error.", "errors": {}}, status=500)
    return render(request, "500.html", status=500)


def forbidden(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"detail": "Forbidden.", "errors": {}}, status=403)
    return render(request, "403.html", {"reason": str(exception or "")}, status=403)
