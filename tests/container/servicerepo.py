"""The services' repository as the container tests lay it out, and the images built from it.

The service images are built exactly as the services' own repository builds them (its README):
    docker build -t cybermesh-backend:latest -f docker/backend/Dockerfile docker/backend/
    docker build -t cybermesh-ai-service:latest -f docker/ai-service/Dockerfile .
with podman in place of docker, in a temporary directory laid out as that repository:
    docker/backend/{Dockerfile,secret-agent.conf,bin/cybermesh}
    docker/ai-service/{Dockerfile,secret-agent.conf}
    ai-service/{main.py,requirements.txt}
The Dockerfiles and agent configs are the ones of packaging/docker/; the services are the
stand-ins of tests/container/standin/ (the backend compiled static here, so debian:12-slim runs
it as it is). The agent image is made from the static build of the agent, tagged with the
Dockerfiles' default SECRET_AGENT_IMAGE so the two commands need no --build-arg.
"""
import os
import shutil
import subprocess
import tempfile

import pkgtest
import podman

HERE = os.path.dirname(os.path.abspath(__file__))
DOCKER = os.path.join(pkgtest.SOURCE_DIR, "packaging", "docker")
STANDIN = os.path.join(HERE, "standin")
# What `FROM secret-agent:latest` resolves to when the image was made locally.
AGENT_IMAGE = "localhost/secret-agent:latest"
BACKEND_IMAGE = "localhost/cybermesh-backend:latest"
AI_IMAGE = "localhost/cybermesh-ai-service:latest"
# The static build (cmake --workflow --preset static) whose agent goes into the agent image.
STATIC_BUILD = os.environ.get("SFS_STATIC_BUILD_DIR") or os.path.join(
    pkgtest.SOURCE_DIR, "build", "static")
STATIC_AGENT = os.path.join(STATIC_BUILD, "agent", "secret-agent")


def base_images():
    """Makes the base images (scripts/container-images.sh); skips the test when it cannot."""
    r = subprocess.run([os.path.join(pkgtest.SOURCE_DIR, "scripts", "container-images.sh")],
                       stdout=subprocess.PIPE, text=True)
    if r.returncode == 77:
        pkgtest.skip("no base images (see container-images' message above)")
    if r.returncode != 0:
        raise RuntimeError("scripts/container-images.sh exited %d" % r.returncode)


def is_static(path):
    r = subprocess.run(["readelf", "-l", "-d", path], capture_output=True, text=True)
    return r.returncode == 0 and "INTERP" not in r.stdout and "(NEEDED)" not in r.stdout


def agent_image(tmp):
    """The agent image, as packaging/docker/secret-agent/Dockerfile says to build it: its
    context prepared by image-context.sh from the static build."""
    if not os.path.exists(STATIC_AGENT):
        pkgtest.skip("no static agent at %s (cmake --workflow --preset static, or set "
                     "SFS_STATIC_BUILD_DIR)" % STATIC_AGENT)
    if not is_static(STATIC_AGENT):
        raise AssertionError("%s is not a static executable" % STATIC_AGENT)
    ctx = os.path.join(tmp, "agent-image")
    agent_docker = os.path.join(DOCKER, "secret-agent")
    subprocess.run([os.path.join(agent_docker, "image-context.sh"), STATIC_BUILD, ctx],
                   check=True)
    podman.run("build", "--pull=never", "-t", AGENT_IMAGE, "-f",
               os.path.join(agent_docker, "Dockerfile"), ctx)


def lay_out(tmp):
    """The services' repository in a new directory under tmp; returns its path."""
    repo = tempfile.mkdtemp(prefix="services-", dir=tmp)
    for image in ("backend", "ai-service"):
        d = os.path.join(repo, "docker", image)
        os.makedirs(d)
        for f in ("Dockerfile", "secret-agent.conf"):
            shutil.copy(os.path.join(DOCKER, image, f), d)
    os.makedirs(os.path.join(repo, "docker", "backend", "bin"))
    subprocess.run(["gcc", "-static", "-O2", "-Wall", "-Werror", "-o",
                    os.path.join(repo, "docker", "backend", "bin", "cybermesh"),
                    os.path.join(STANDIN, "cybermesh.c")], check=True)
    shutil.copytree(os.path.join(STANDIN, "ai-service"), os.path.join(repo, "ai-service"))
    return repo


def build_services(repo):
    """The services' two build commands, run from the repository's root."""
    podman.run("build", "-t", "cybermesh-backend:latest", "-f", "docker/backend/Dockerfile",
               "docker/backend/", cwd=repo)
    podman.run("build", "-t", "cybermesh-ai-service:latest", "-f",
               "docker/ai-service/Dockerfile", ".", cwd=repo)


def build_all(tmp):
    """Base images, agent image and both service images; returns the services' repository."""
    base_images()
    agent_image(tmp)
    repo = lay_out(tmp)
    build_services(repo)
    # The previous run's images have lost their names to these: keep the store from growing.
    podman.run("image", "prune", "-f", check=False)
    return repo


def image_size(name):
    return int(podman.run("image", "inspect", "--format", "{{.Size}}", name).stdout.strip())


def check_environment():
    why = podman.available()
    if why:
        pkgtest.skip(why)
    for tool in ("gcc", "readelf", "openssl"):
        if not shutil.which(tool):
            pkgtest.skip("%s is not installed" % tool)
